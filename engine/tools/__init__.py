"""Tools the model may call: each runs only with the user's approval, inside its own limits."""
