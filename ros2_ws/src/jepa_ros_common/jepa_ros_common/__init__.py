"""What every node shares: image, embedding, pose and stamp message conversions, and the one parameter table."""
