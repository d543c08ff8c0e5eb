"""The window: Qt controllers that connect ui/ widgets to the engine, off the GUI thread."""
