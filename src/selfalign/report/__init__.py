"""selfalign.report"""
