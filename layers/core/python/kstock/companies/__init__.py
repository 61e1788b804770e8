"""Companies: the listed instruments kstock knows, their reference data and search."""
