from bot.pixazo.client import GeneratedImage, PixazoClient
from bot.pixazo.errors import PixazoError
from bot.pixazo.retry import RetryPolicy

__all__ = ["GeneratedImage", "PixazoClient", "PixazoError", "RetryPolicy"]
