"""Response: playbooks that act on alerts, and the runner that keeps them safe."""
