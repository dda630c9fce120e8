from services.playback.service import PlaybackService

if __name__ == "__main__":
    PlaybackService().run()
