"""`make bench`: leadq beside a baseline of the seed guide's design, one table of numbers.
See `bench/README.md` for what each measurement does; `python -m bench.run --help`."""
