"""MuJoCo Franka Panda simulation that speaks the real robot's topics."""
