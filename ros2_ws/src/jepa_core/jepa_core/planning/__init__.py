"""Planning with the V-JEPA 2-AC world model: batched torch poses, the world-model facade and fast CEM MPC."""
