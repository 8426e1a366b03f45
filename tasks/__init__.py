"""Queue side: the taskiq broker, the dispatcher that enqueues due deliveries, the workers that publish
them, and one publisher per social platform. Imports ``handlers`` and ``models``, never ``bot``.
"""
