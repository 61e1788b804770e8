"""``python -m kstock_local.cloud.moto_server``: moto's server, quiet.

moto logs every request through werkzeug (one line a second from the SQS pollers alone), which
buries kstock's own lines in the `make up` console. Its access log is off unless KSTOCK_LOG_AWS=1;
warnings and errors still show.
"""

from __future__ import annotations

import logging
import sys

from moto.server import main

from kstock_local.settings import get_local_settings

if __name__ == "__main__":
    if not get_local_settings().kstock_log_aws:
        # werkzeug configures its logger only while it is unset: a level set first is kept
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    main(sys.argv[1:])  # serves until interrupted
    sys.exit(0)
