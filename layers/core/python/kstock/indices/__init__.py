"""KOSPI / KOSDAQ index data: stored from KIS by IndexDataFunction, served by /indices/*."""
