"""selfalign.stages"""
