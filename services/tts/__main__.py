from services.tts.service import TtsService

if __name__ == "__main__":
    TtsService().run()
