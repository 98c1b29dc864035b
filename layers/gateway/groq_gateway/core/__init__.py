"""The domain and what every function shares: records, rules, settings, logging, errors."""
