"""Published benchmarks on selfalign's conditions: ``selfalign evaluate --benchmark NAME --data FILE``."""
