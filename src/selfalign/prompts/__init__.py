"""selfalign.prompts"""
