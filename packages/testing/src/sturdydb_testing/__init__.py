"""sturdydb-testing: local Aurora-compatible clusters on real servers, with fault injection.

Start a real PostgreSQL or MariaDB primary with replicas on this machine, each instance on its
own loopback address behind a fault proxy, with the topology surface of Aurora or of an RDS
Multi-AZ DB cluster emulated (or an Aurora Limitless shard group with transaction routers),
DNS-delayed cluster and reader endpoints, and faults (kill, freeze, blackhole, reset, latency, refusal,
failover) recorded with timestamps, and RDS Blue/Green deployments with a switchover
(:mod:`sturdydb_testing.bluegreen`). The pytest plugin (:mod:`sturdydb_testing.pytest_plugin`)
gives fixtures; ``python -m sturdydb_testing`` drives a cluster from a shell.
"""

from __future__ import annotations

from sturdydb_testing.binaries import ServerBinariesNotFound
from sturdydb_testing.bluegreen import BlueGreenDeployment
from sturdydb_testing.cluster import Cluster, ClusterKind, Endpoint, Instance, InstanceState, OldWriterFate
from sturdydb_testing.events import FaultEvent
from sturdydb_testing.limitless import LimitlessCluster, Router
from sturdydb_testing.mariadb import MariaDBCluster
from sturdydb_testing.postgres import PostgresCluster

__all__ = [
    "BlueGreenDeployment",
    "Cluster",
    "ClusterKind",
    "Endpoint",
    "FaultEvent",
    "Instance",
    "InstanceState",
    "LimitlessCluster",
    "MariaDBCluster",
    "OldWriterFate",
    "PostgresCluster",
    "Router",
    "ServerBinariesNotFound",
]
