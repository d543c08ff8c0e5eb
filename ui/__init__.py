"""Qt widgets only: they show data and emit signals; they never call engine functions."""
