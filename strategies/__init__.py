"""Everything that decides: baselines, neural policy adapters, multi-agent ensembles."""
