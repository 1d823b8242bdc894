"""HazardLoop — 重大事故隐患闭环管理工作流引擎."""

__version__ = "0.1.0"
