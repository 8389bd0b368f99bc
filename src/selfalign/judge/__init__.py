"""selfalign.judge"""
