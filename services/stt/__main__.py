from services.stt.service import SttService

if __name__ == "__main__":
    SttService().run()
