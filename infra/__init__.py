"""Everything that wires or runs kstock's functions outside AWS: the local runtime (`kstock up`)."""
