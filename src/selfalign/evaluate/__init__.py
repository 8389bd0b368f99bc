"""selfalign.evaluate"""
