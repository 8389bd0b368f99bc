"""selfalign.data"""
