def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: takes minutes (e.g. builds the whole docs site); deselect with -m "not slow"')
