"""``python -m services.brain``."""

from services.brain.service import BrainService

if __name__ == "__main__":
    BrainService().run()
