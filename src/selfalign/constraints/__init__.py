"""selfalign.constraints"""
