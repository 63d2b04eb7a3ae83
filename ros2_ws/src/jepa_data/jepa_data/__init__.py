"""Episode recorder and bag player nodes (`ros2 run jepa_data recorder` / `player`), over jepa_core.data."""
