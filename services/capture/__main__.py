from services.capture.service import CaptureService

if __name__ == "__main__":
    CaptureService().run()
