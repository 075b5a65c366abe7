"""Services a lab runs on its nodes (coturn for STUN/TURN)."""
