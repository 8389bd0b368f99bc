"""selfalign.engine"""
