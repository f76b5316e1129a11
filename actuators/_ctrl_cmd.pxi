# mf_ctrl_cmd_t from keyword fields, shared by the core binding (Controller)
# and the simulator binding (Bank). The including module declares
# mf_ctrl_cmd_t (with its mf_impedance_cmd_t) from mf_ctrl.h first. The
# command is zeroed first (padding included: the core compares the inject
# config byte for byte); the inject config (MF_MODE_INJECT) is filled by the
# caller (Controller.command: inject=dict(...)).

from libc.string cimport memset

CMD_FIELDS = ("i_d_ref", "i_q_ref", "v_d_ref", "v_q_ref", "force_angle", "theta_e_force",
              "v_out_ref", "p_out_ref", "tau_ff_nm", "p_des", "v_des", "kp", "kd", "tau_ff",
              "u_flex", "u_ext")


cdef int _fill_cmd(mf_ctrl_cmd_t *m, int mode, dict fields) except -1:
    """Every field of the command: the named ones, the rest 0 (SI, output side)."""
    unknown = set(fields) - set(CMD_FIELDS)
    if unknown:
        raise TypeError(f"unknown command fields {sorted(unknown)}; known: {CMD_FIELDS}")
    memset(m, 0, sizeof(mf_ctrl_cmd_t))
    m.mode = <uint8_t>mode
    m.i_d_ref = fields.get("i_d_ref", 0.0)
    m.i_q_ref = fields.get("i_q_ref", 0.0)
    m.v_d_ref = fields.get("v_d_ref", 0.0)
    m.v_q_ref = fields.get("v_q_ref", 0.0)
    m.force_angle = bool(fields.get("force_angle", False))
    m.theta_e_force = fields.get("theta_e_force", 0.0)
    m.v_out_ref = fields.get("v_out_ref", 0.0)
    m.p_out_ref = fields.get("p_out_ref", 0.0)
    m.tau_ff_nm = fields.get("tau_ff_nm", 0.0)
    m.imp.p_des = fields.get("p_des", 0.0)
    m.imp.v_des = fields.get("v_des", 0.0)
    m.imp.kp = fields.get("kp", 0.0)
    m.imp.kd = fields.get("kd", 0.0)
    m.imp.tau_ff = fields.get("tau_ff", 0.0)
    m.u_flex = fields.get("u_flex", 0.0)
    m.u_ext = fields.get("u_ext", 0.0)
    return 0
