"""Protocol-faithful fake servers (Ollama, Gemini, OpenAI-compatible) on 127.0.0.1 for the brain tests."""
