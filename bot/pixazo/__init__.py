from bot.pixazo.client import GeneratedImage, PixazoClient, RetryPolicy
from bot.pixazo.errors import PixazoError

__all__ = ["GeneratedImage", "PixazoClient", "PixazoError", "RetryPolicy"]
