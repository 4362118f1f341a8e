"""Telemetry of the live detector: Parquet segments written by feed runners, read through DuckDB.

Concurrency design
------------------
DuckDB lets one process hold a database file at a time, and feed runners are separate,
long-running processes, so telemetry never goes through the store file. Instead it is a small
*Parquet lake* under ``settings.telemetry_dir`` (Hive-style ``date=YYYY-MM-DD`` partitions):

* **Writers** (one :class:`~.writer.TelemetryWriter` per runner process) buffer events in memory
  and at least once a second write them as a new Parquet *segment*: a hidden ``.tmp`` file,
  then ``os.replace`` to its final name. Readers therefore see a segment completely or not at
  all; a ``kill -9`` loses only the un-flushed buffer (<= 1 s) and leaves at worst a stray
  ``.tmp`` file, which the compactor deletes later. Writers take no locks and never rewrite a
  file, so any number of cameras write at once.
* **Readers** (the app, every browser session, the CLI, monitoring) open an *in-memory* DuckDB
  connection per query over ``read_parquet([...])`` of the files that overlap the window, listed
  under a shared ``flock`` (:func:`~.lake.snapshot`). File names carry the UTC hour, so a
  "last 5 minutes" query opens only that hour's files.
* **Compaction** (:func:`~.lake.compact`, run every 30 s by each runner, at most one process at a
  time through a non-blocking ``flock``; also ``secmlops telemetry compact``) merges segments of
  the open hour into one ``hour-HH`` file, finalises closed hours (2 min grace) together with
  their **per-minute rollups** (counts, sums, exact per-minute p50/p95 and a 64-bucket latency
  histogram so any set of minutes merges exactly), merges closed days into one ``day`` file, and
  applies **retention** (raw events ``telemetry_retention_days``; rollups max(400, 4x) days).
  A merge is published by a *journaled swap* under an exclusive ``flock``: write the journal,
  rename the merged file(s) in, delete the sources, delete the journal. Because readers list
  under the shared lock, a listing never holds a merged file together with its sources; if a
  compactor dies mid-swap, readers (and the next compaction) use the journal to see the swap as
  either fully done or not done, so nothing is counted twice or lost. A reader whose file was
  removed by a later swap between listing and reading retries with a fresh listing.
* **Queries** (:mod:`~.query`): windows up to 3 h are answered exactly from raw events; longer
  windows combine stored rollups for finalised hours with raw events for the rest, keeping
  KPI queries over months (10M+ events) well under a quarter of a second.

Scale-out: the lake is plain, Hive-partitioned Parquet with a fixed schema
(:data:`~.schema.EVENT_SCHEMA`). A fleet that outgrows one machine writes the same layout to
shared or object storage (one writer per camera, unique segment names), and Spark, Trino or
DuckDB read ``events/date=*/*.parquet`` and ``rollups/date=*/*.parquet`` alike (partition
column ``date``); the journal rule matters only while a compaction is in flight and can be
replaced by a table format (Iceberg/Delta) at that scale.
"""
