"""Pure earthquake science: numpy/scipy/stdlib only, no I/O, no wall clock."""
