"""What Luna says aloud is made here and nowhere else.

The brain turns the reply it streams into clauses a voice can read: :mod:`.clean`
takes out what is only for the screen (markdown, emoji, links, code: a code block
becomes one line in the user's language), :mod:`.segmenter` cuts the token stream
into pieces as soon as each one is certain. tts receives those pieces and only
synthesizes them; what an engine does below the text (which voice, its phonemizer's
respellings, its own synthesis chunks) stays in tts.
"""
