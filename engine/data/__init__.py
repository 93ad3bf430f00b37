"""Market data: the `MarketData` container (``market``), the built-in datasets (``registry``: embedded real
data from ``embedded`` and the seeded generator of ``synthetic``), user CSV and Parquet files read and
validated (``io``, ``files``, ``streams``, ``columns``, ``timestamps``, ``validation``, ``limits``) and
imported datasets (``store``). Rules and provenance: docs/data.md."""
