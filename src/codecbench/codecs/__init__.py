"""Built-in codec plugins: classical codecs by format and learned codecs by framework and paper."""
