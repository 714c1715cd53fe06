"""`python -m bench`: throughput, latency, recall and memory of ytingest, each next to a baseline
measured in the same run. See bench/results/latest.md for the last full run."""
