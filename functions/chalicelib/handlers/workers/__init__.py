"""SQS workers, one module per queue: each record is one unit of work, and a failed record is
reported back (it returns to its queue and, after maxReceiveCount, goes to the DLQ) while the
others complete.

A message no retry can process (malformed, naming nothing that exists) raises, so the redrive
policy parks it in the DLQ after its receives; a transient failure raises too (the queue retries
it later). Each module says what it acknowledges instead of failing.
"""
