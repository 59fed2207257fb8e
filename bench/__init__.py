"""`make bench`: leadq beside a baseline that rebuilds the original design the project
started from (the "seed" design), one table of numbers.
See `bench/README.md` for what each measurement does; `python -m bench.run --help`."""
