"""Benchmarks of the bot: `python -m bench` runs them all and writes bench/results/latest.json.

Each figure is measured against a baseline run in the same process, so that the ratio between
them holds on a noisy machine. Benchmarks are not tests: nothing in `make test` asserts on time.
"""
