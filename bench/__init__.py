"""`python -m bench`: throughput, latency, recall and memory of ytingest, each next to a baseline
measured in the same run. See bench/RESULTS.md (tracked) for the latest full run of each bench."""
