"""selfalign.train"""
