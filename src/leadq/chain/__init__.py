"""The LCEL chain: preprocess | prompt | model with structured output | postprocess."""
