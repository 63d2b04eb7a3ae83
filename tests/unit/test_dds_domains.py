"""The suite's DDS domains (tests/dds_domains.py): workers of one run never share a domain."""

import itertools

from tests.dds_domains import context_domains, worker_domain


def test_workers_of_a_run_get_distinct_process_domains_within_1_to_100():
    for run in (1, 57, 100):
        domains = [worker_domain(run, worker) for worker in range(8)]
        assert domains[0] == run and len(set(domains)) == 8 and all(1 <= d <= 100 for d in domains)
    assert worker_domain(0, 0) == 0  # a ROS_DOMAIN_ID the user set is kept by a plain run


def test_context_domains_of_workers_are_disjoint_and_above_the_process_domains():
    for workers in (1, 2, 3):
        ranges = [set(itertools.islice(context_domains(w, workers, 12345), 500)) for w in range(workers)]
        assert all(101 <= d <= 230 for r in ranges for d in r)
        assert sum(len(r) for r in ranges) == len(set().union(*ranges))  # no domain in two workers' ranges
        assert all(len(r) == 130 // workers for r in ranges)  # each cycles through its whole range
