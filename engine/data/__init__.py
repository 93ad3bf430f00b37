"""Market data: the MarketData container, embedded datasets, user files and their validation."""
