"""`python -m bench` (or `make bench`): every case, one table."""

from bench.run import main

raise SystemExit(main())
