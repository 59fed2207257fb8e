"""Where answers come from: vendor facts (catalog), prices, and the factory that turns settings
into a backend (an LLM chain or the embedded rules engine)."""
