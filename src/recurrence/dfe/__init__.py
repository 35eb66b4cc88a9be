"""Real DfE local-authority tables: the Explore Education Statistics loader and the LA analyses."""
